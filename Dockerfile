FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY starters starters
RUN pip install --no-cache-dir .
# Search attributes and the records schema are set up by `partnerflow worker` on start.
CMD ["partnerflow", "worker"]
