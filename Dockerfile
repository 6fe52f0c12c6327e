# Dossier Vault: the web app (gunicorn) and the index worker share this image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DOSSIER_HOME=/var/lib/dossier

# Tesseract with the Chinese (simplified) and English data, libmagic for type sniffing, a CJK font for
# certificates and stamped copies, the PostgreSQL client for `dossier backup` (pg_dump / pg_restore).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd libmagic1 fonts-wqy-zenhei poppler-utils \
      postgresql-client \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /var/lib/dossier --shell /usr/sbin/nologin dossier \
 && install -d -o dossier -g dossier -m 0700 /var/lib/dossier

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY vault ./vault
COPY indexer ./indexer
COPY web ./web
RUN pip install --no-cache-dir .
COPY docker/entrypoint.sh /usr/local/bin/dossier-entrypoint

USER dossier
EXPOSE 8080
ENTRYPOINT ["dossier-entrypoint"]
CMD ["serve"]
