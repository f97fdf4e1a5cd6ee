// Where the page sends images: the invoke URL of POST /predict, and the API key if the
// API requires one. Write this file before uploading the page (lesson 09 shows how);
// an API key in a public page is visible to everyone: it names and throttles a caller,
// it does not keep anyone out.
window.CLOTHING_API = {
  predictUrl: "",
  apiKey: "",
};
