"""Pages the app serves itself: HTML and its static assets from ``static/`` (deployed with the app)."""
