#!/bin/sh
# nginx with the routes mounted at /etc/nginx/routes.conf, resolving upstreams by the
# container network's DNS server (the nameserver podman or Docker put in resolv.conf).
set -eu
resolver="$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)"
cat > /etc/nginx/nginx.conf <<CONF
worker_processes 1;
pid /tmp/nginx.pid;
events { worker_connections 256; }
http {
  access_log /dev/stdout;
  error_log /dev/stderr warn;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  resolver ${resolver} valid=2s ipv6=off;
  proxy_http_version 1.1;
  proxy_buffering off;
  proxy_read_timeout 60s;
  proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto \$scheme;
  proxy_set_header Connection "";
  server {
    listen 8080;
    include /etc/nginx/routes.conf;
  }
}
CONF
exec nginx -g 'daemon off;'
