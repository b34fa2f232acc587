"""The weekly intelligence report: built once from the store (``build``), rendered as
JSON, Markdown or one self-contained HTML file with charts (``render``), and written
by the weekly timer to the settings' ``report_dir`` (``publish``)."""
