#!/bin/sh
# SPDX-License-Identifier: MIT
# Test certificates in DIR: a CA; server.pem (127.0.0.1, localhost);
# wrongname.pem (another name); expired.pem (valid only in 2020); a second
# CA (other-ca) that signed nothing we serve; client.pem for mTLS.
# Host certificates for web01.test that jit-apid must refuse as a client
# (tests/integration/apid-tls.sh): web01-server (serverAuth only),
# web01-noeku (no extendedKeyUsage at all), web01-ca (CA:TRUE, though
# clientAuth), web01-other (other-ca's), web01-expired (clientAuth, 2020);
# and web01-both (serverAuth and clientAuth), which it accepts; and two
# through intermediate CAs (below).
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
leaf() { # name cn san eku(- for none) [days [signer [basicConstraints]]]
    q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=%s\nbasicConstraints=%s\n' "$3" "${7:-CA:FALSE}" > "$1.ext"
    [ "$4" = - ] || printf 'extendedKeyUsage=%s\n' "$4" >> "$1.ext"
    q openssl x509 -req -in "$1.csr" -CA "${6:-ca}.pem" -CAkey "${6:-ca}.key" \
        -CAcreateserial -out "$1.pem" -days "${5:-3}" -extfile "$1.ext"
}
leaf server localhost "DNS:localhost,IP:127.0.0.1" serverAuth
leaf wrongname wrong.example "DNS:wrong.example" serverAuth
leaf client web01.test "DNS:web01.test" clientAuth
leaf web01-server web01.test "DNS:web01.test" serverAuth
leaf web01-noeku web01.test "DNS:web01.test" -
leaf web01-ca web01.test "DNS:web01.test" clientAuth 3 ca critical,CA:TRUE
leaf web01-other web01.test "DNS:web01.test" clientAuth 3 other-ca
leaf web01-both web01.test "DNS:web01.test" serverAuth,clientAuth
# Intermediate CAs under ca: ica (no extendedKeyUsage: any purpose) and
# ica-server (limited to serverAuth).  web01-ica and web01-ica-server
# (clientAuth, each from one of them) come with their chain in *-chain.pem.
subca() { # name eku(- for none)
    q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$1.ext"
    [ "$2" = - ] || printf 'extendedKeyUsage=%s\n' "$2" >> "$1.ext"
    q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out "$1.pem" -days 3 -extfile "$1.ext"
}
subca ica -
subca ica-server serverAuth
leaf web01-ica web01.test "DNS:web01.test" clientAuth 3 ica
leaf web01-ica-server web01.test "DNS:web01.test" clientAuth 3 ica-server
cat web01-ica.pem ica.pem > web01-ica-chain.pem
cat web01-ica-server.pem ica-server.pem > web01-ica-server-chain.pem
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
q openssl req -newkey rsa:2048 -nodes -keyout web01-expired.key \
    -out web01-expired.csr -subj "/CN=web01.test" \
    -addext "subjectAltName=DNS:web01.test" -addext "basicConstraints=CA:FALSE" \
    -addext "extendedKeyUsage=clientAuth"
q openssl ca -batch -config ca.cnf -in web01-expired.csr -out web01-expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z
chmod 600 ./*.key
