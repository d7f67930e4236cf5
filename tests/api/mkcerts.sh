#!/bin/sh
# Test certificates in DIR: a CA; server.pem (127.0.0.1, localhost);
# wrongname.pem (another name); expired.pem (valid only in 2020); a second
# CA (other-ca) that signed nothing we serve; client.pem for mTLS.
set -eu
D=$1
mkdir -p "$D"
cd "$D"
q() { "$@" >/dev/null 2>&1; }
ca() { # name subject
    q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" \
        -days 3 -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}
ca ca "JIT Test CA"
ca other-ca "Some Other CA"
leaf() { # name cn san eku [days]
    q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$3" "$4" > "$1.ext"
    q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out "$1.pem" -days "${5:-3}" -extfile "$1.ext"
}
leaf server localhost "DNS:localhost,IP:127.0.0.1" serverAuth
leaf wrongname wrong.example "DNS:wrong.example" serverAuth
leaf client web01.test "DNS:web01.test" clientAuth
# Expired: signed through `openssl ca`, which takes explicit dates.
mkdir -p cadb
: > cadb/index.txt
echo 1000 > cadb/serial
cat > ca.cnf <<CNF
[ca]
default_ca = t
[t]
database = cadb/index.txt
serial = cadb/serial
new_certs_dir = cadb
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = p
copy_extensions = copy
[p]
commonName = supplied
CNF
q openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
q openssl ca -batch -config ca.cnf -in expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z
chmod 600 ./*.key
