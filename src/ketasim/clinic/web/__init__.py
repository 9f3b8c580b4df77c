"""Server-rendered pages (Jinja2) and locally served static assets."""
