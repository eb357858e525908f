# vsftpd 3.0.3 (Debian 12) for tests/services_mail_ftp.rs, inside the real-root daemon namespaces
# (tests/common/daemons.rs; after tests/lab/daemon_fns.sh). `vsftpd_start` writes three configs
# to $LAB_DIR/ftp, bind-mounts its own /etc/hosts.allow and /etc/hosts.deny (libwrap), and starts
# three standalone vsftpd (listen=YES, background=NO, tcp_wrappers=YES) on every address, each
# logging the FTP dialogue (log_ftp_protocol) to $LAB_DIR/ftp/vsftpdN.log.
#
# The client address is the destination address (tests/lab/daemon_fns.sh, addr_add):
#   port 21    max_per_ip=1: 127.0.21.1 allowed: `220 (vsFTPd 3.0.3)`;
#              127.0.21.2 denied in hosts.deny: `421 Service not available.`;
#              127.0.21.3 for a 2nd connection from one address: `421 There are too many
#              connections from your internet address.`
#   port 2121  max_clients=1: a 2nd client (127.0.21.4 while 127.0.21.5 holds one): `421 There
#              are too many connected users, please try later.`
#   port 2122  local and anonymous logins both off: `500 OOPS: vsftpd: both local and anonymous
#              access disabled!`

FTP=$LAB_DIR/ftp

# vsftpd_conf PORT LOG EXTRA...: a standalone vsftpd config on stdout.
vsftpd_conf() {
    port=$1
    log=$2
    shift 2
    printf '%s\n' listen=YES listen_ipv6=NO "listen_port=$port" background=NO tcp_wrappers=YES \
        anonymous_enable=NO secure_chroot_dir=/run/vsftpd/empty pam_service_name=vsftpd \
        "vsftpd_log_file=$FTP/$log" xferlog_enable=YES dual_log_enable=YES \
        log_ftp_protocol=YES "$@"
}

vsftpd_start() {
    mkdir -p "$FTP" /run/vsftpd/empty
    vsftpd_conf 21 vsftpd1.log local_enable=YES max_per_ip=1 > "$FTP/vsftpd1.conf"
    vsftpd_conf 2121 vsftpd2.log local_enable=YES max_clients=1 > "$FTP/vsftpd2.conf"
    vsftpd_conf 2122 vsftpd3.log local_enable=NO > "$FTP/vsftpd3.conf"
    printf 'vsftpd: 127.0.21.2\n' > "$FTP/hosts.deny"
    : > "$FTP/hosts.allow"
    private_file /etc/hosts.allow "$FTP/hosts.allow"
    private_file /etc/hosts.deny "$FTP/hosts.deny"
    addr_add 127.0.21.1 127.0.21.2 127.0.21.3 127.0.21.4 127.0.21.5
    for n in 1 2 3; do
        vsftpd "$FTP/vsftpd$n.conf" > "vsftpd$n.out" 2> "vsftpd$n.err" &
    done
    for p in 21 2121 2122; do wait_port 0.0.0.0 "$p"; done
}
