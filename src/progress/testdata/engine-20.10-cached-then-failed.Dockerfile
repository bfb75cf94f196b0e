FROM sandbox/busybox:latest AS base
RUN echo hello from stdout && echo warning-ish >&2 && sleep 0.3 && echo done
FROM base
COPY app.txt /app.txt
RUN echo building; sleep 0.2; echo the last words >&2; exit 3
