# Test certificates for tests/services_tls.rs, made fresh in the current directory with the
# openssl CLI: a CA (`ca.pem`, not in the system roots) and leaf certificates signed by it.
# tls_leaf NAME DAYS [CN]: NAME.pem + NAME.key, valid DAYS days from now, for DNS:lab.test and
# every 127.0.30.x case address (EC P-256 keys: fast to make).
tls_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days 365 -subj "/CN=Telltale Lab CA" 2>/dev/null || exit 97
}
tls_leaf() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.csr" -subj "/CN=${3:-lab.test}" 2>/dev/null || exit 97
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature' \
        'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:lab.test,IP:127.0.30.1,IP:127.0.30.2,IP:127.0.30.3,IP:127.0.30.4,IP:127.0.30.5' \
        > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$2" \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null || exit 97
}
