"""bytes -> text -> index: extraction (pypdf, python-docx, OCR), analyzer (jieba), Whoosh, worker."""
