# nginx for the real-daemon tests (tests/services_web.rs; after tests/lab/daemon_fns.sh, as
# real root in the test's net + mount + pid namespaces): nginx_start runs stock Debian nginx
# with everything it writes (pid, error and access logs, temp dirs) under $LAB_DIR/NAME.

# nginx_start NAME CONF ADDR:PORT...: copy CONF (a file in $LAB_DIR; `@DIR@` is replaced by
# $LAB_DIR/NAME) to NAME/nginx.conf, check it (`nginx -t`, exit 95 with its words if bad), run
# `nginx -p DIR -c CONF -e LOG` in the foreground of a background job (`daemon off;` is
# added) and wait until each ADDR:PORT listens. Workers run as www-data, so the lab dir is
# made traversable and NAME/www (the document root, with an index.html) readable.
nginx_start() {
    ngx_name=$1
    ngx_conf=$2
    shift 2
    ngx_dir="$LAB_DIR/$ngx_name"
    mkdir -p "$ngx_dir/tmp" "$ngx_dir/www"
    echo "telltale lab page" > "$ngx_dir/www/index.html"
    chmod 755 "$LAB_DIR" "$ngx_dir" "$ngx_dir/www"
    chmod 644 "$ngx_dir/www/index.html"
    { echo 'daemon off;'; sed "s#@DIR@#$ngx_dir#g" "$LAB_DIR/$ngx_conf"; } > "$ngx_dir/nginx.conf"
    if ! nginx -t -q -p "$ngx_dir" -c "$ngx_dir/nginx.conf" -e "$ngx_dir/error.log" \
        2> "$ngx_dir/check.err"; then
        echo "nginx -t refused $ngx_conf:" >&2
        cat "$ngx_dir/check.err" "$ngx_dir/error.log" >&2 2>/dev/null || true
        exit 95
    fi
    nginx -p "$ngx_dir" -c "$ngx_dir/nginx.conf" -e "$ngx_dir/error.log" \
        > "$ngx_dir/stdout" 2>&1 &
    for ngx_ap in "$@"; do
        wait_port "${ngx_ap%:*}" "${ngx_ap##*:}"
    done
}
