"""bytes -> text -> index: extraction (pypdf, python-docx, OCR), analyzer (jieba), Whoosh or SQLite FTS5, worker."""
