"""Reports written as self-contained HTML files (Jinja2, inline SVG, no external assets)."""
