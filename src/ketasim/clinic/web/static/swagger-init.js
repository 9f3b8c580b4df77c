// Interactive API docs for /api/v1, from the locally installed Swagger UI bundle (no CDN).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
});
