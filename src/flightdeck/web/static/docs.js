// Swagger UI for flightdeck's API, from the installed fastapi-offline package. Requests made from
// this page with the cockpit session carry its CSRF token.
window.addEventListener("load", function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : null;
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    requestInterceptor: function (request) {
      if (csrf) request.headers["X-CSRF-Token"] = csrf;
      return request;
    },
  });
});
