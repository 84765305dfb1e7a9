# One image for qmux's gateway, worker and projector; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams streams
COPY domain domain
COPY projections projections
COPY qpu_jax qpu_jax
COPY infra infra
COPY bench bench
RUN pip install --no-cache-dir .
ENV QMUX_HOME=/var/lib/qmux
EXPOSE 8742
ENTRYPOINT ["qmux"]
CMD ["gateway"]
