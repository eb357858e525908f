# Postfix 3.7 (Debian 12) for tests/services_mail_ftp.rs, inside the real-root daemon namespaces
# (tests/common/daemons.rs; after tests/lab/daemon_fns.sh). `postfix_start` copies /etc/postfix
# to $LAB_DIR/pf/etc, writes main.cf and master.cf, bind-mounts that dir over /etc/postfix and
# fresh tmpfs dirs over /var/spool/postfix and /var/lib/postfix, and starts `postfix start-fg`.
# The log goes to $LAB_DIR/pf/maillog (`maillog_file`, no syslog needed).
#
# One smtpd (or postscreen) per case address, all on port 25; the client address is the
# destination address (tests/lab/daemon_fns.sh, addr_add):
#   127.0.25.1, [::1], 127.0.25.9, 127.0.25.11-13  plain smtpd:
#               `220 mx.lab ESMTP Postfix (Debian/GNU)`
#   127.0.25.2  check_client_access cidr: REJECT, smtpd_delay_reject=no: 554 at the greeting
#   127.0.25.3  smtpd_client_connection_count_limit=1 (no exceptions): 421 for a 2nd connection
#   127.0.25.4  postscreen, postscreen_access_list cidr: reject, denylist action drop: 521
#   127.0.25.5  smtpd_client_restrictions=reject at Postfix's default smtpd_delay_reject=yes:
#               greets 220 (the refusal only comes at RCPT TO)
#   127.0.25.6  smtpd_client_restrictions=reject, smtpd_delay_reject=no: 554 at the greeting
#   127.0.25.7, 127.0.25.8  postscreen, nothing listed: `220-` at once, then after
#               postscreen_greet_wait (6 s) the final `220 ` line from smtpd (new clients)
# Each postscreen has its own cache (instances sharing one btree block on its lock).

PF=$LAB_DIR/pf

postfix_start() {
    mkdir -p "$PF"
    cp -a /etc/postfix "$PF/etc"
    cat > "$PF/etc/main.cf" <<MAIN
compatibility_level = 3.6
myhostname = mx.lab
mydomain = lab
mydestination =
smtpd_banner = \$myhostname ESMTP \$mail_name (Debian/GNU)
inet_protocols = all
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
biff = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file_prefixes = /tmp, /var, $LAB_DIR
maillog_file = $PF/maillog
smtpd_client_event_limit_exceptions =
postscreen_access_list = cidr:$PF/etc/postscreen_access.cidr
postscreen_denylist_action = drop
MAIN
    printf '127.0.25.2/32 REJECT\n' > "$PF/etc/client_access.cidr"
    printf '127.0.25.4/32 reject\n' > "$PF/etc/postscreen_access.cidr"
    # Debian's unix services without chroot (the spool is a bare tmpfs); our inet services.
    awk '/^[a-z]/ && $2 != "inet" { $5 = "n"; print; next }
         /^[a-z]/ && $2 == "inet" { next }
         { print }' /etc/postfix/master.cf > "$PF/etc/master.cf"
    cat >> "$PF/etc/master.cf" <<MASTER
127.0.25.1:25 inet n - n - - smtpd
127.0.25.9:25 inet n - n - - smtpd
127.0.25.11:25 inet n - n - - smtpd
127.0.25.12:25 inet n - n - - smtpd
127.0.25.13:25 inet n - n - - smtpd
[::1]:25 inet n - n - - smtpd
127.0.25.2:25 inet n - n - - smtpd -o smtpd_delay_reject=no -o smtpd_client_restrictions=check_client_access,cidr:$PF/etc/client_access.cidr
127.0.25.3:25 inet n - n - - smtpd -o smtpd_client_connection_count_limit=1
127.0.25.4:25 inet n - n - 1 postscreen -o postscreen_cache_map=btree:\$data_directory/postscreen4_cache
127.0.25.5:25 inet n - n - - smtpd -o smtpd_client_restrictions=reject
127.0.25.6:25 inet n - n - - smtpd -o smtpd_delay_reject=no -o smtpd_client_restrictions=reject
127.0.25.7:25 inet n - n - 1 postscreen -o postscreen_cache_map=btree:\$data_directory/postscreen7_cache
127.0.25.8:25 inet n - n - 1 postscreen -o postscreen_cache_map=btree:\$data_directory/postscreen8_cache
smtpd pass - - n - - smtpd
dnsblog unix - - n - 0 dnsblog
tlsproxy unix - - n - 0 tlsproxy
MASTER
    addr_add 127.0.25.1 127.0.25.2 127.0.25.3 127.0.25.4 127.0.25.5 127.0.25.6 \
        127.0.25.7 127.0.25.8 127.0.25.9 127.0.25.11 127.0.25.12 127.0.25.13
    mount --bind "$PF/etc" /etc/postfix
    private_dir /var/spool/postfix
    private_dir /var/lib/postfix
    chmod 755 /var/spool/postfix /var/lib/postfix
    chown postfix /var/lib/postfix
    postfix start-fg > postfix.out 2> postfix.err &
    for a in 1 2 3 4 5 6 7 8 9 11 12 13; do wait_port "127.0.25.$a" 25; done
    wait_port ::1 25
}

# maillog_wait PATTERN [N]: wait (up to 10 s) until N (default 1) lines of the log match PATTERN
# (grep -E), or fail the script (exit 95): smtpd logs `disconnect from unknown[A]` when a
# session ends, postscreen `DISCONNECT [A]:PORT` when it drops one.
maillog_wait() {
    i=0
    while [ "$(grep -cE -- "$1" "$PF/maillog")" -lt "${2:-1}" ]; do
        i=$((i + 1))
        if [ "$i" -gt 200 ]; then
            echo "maillog: fewer than ${2:-1} lines match '$1'" >&2
            cat "$PF/maillog" >&2
            exit 95
        fi
        sleep 0.05
    done
}
