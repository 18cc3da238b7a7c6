#!/usr/bin/python3
"""Conformance checklist judged by pyca/cryptography (Debian 12's 38.x).

Usage: conformance.py DIR. DIR holds the artifacts test_conformance.sh
fetched: root, codesigning, timestamping, attest-root, attest-issuer, tsa,
leaf, ev (PEM certificates), codesigning.crl, timestamping.crl (DER) and
ocsp-good.der, ocsp-revoked.der, ocsp-unknown.der, token.der (a
time-stamp token, DER ContentInfo); serials.txt names the
serial (hex) behind each OCSP answer. Prints "ok: ..." or "FAIL: ..." per
check; the shell test counts them. Written for this test only: it is the
second parser beside OpenSSL, and it knows the rules, not Signet's code.
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU
from cryptography.x509.oid import ExtensionOID as X
from cryptography.x509.oid import NameOID

D = sys.argv[1]
DAY = datetime.timedelta(days=1)
CS, EV, TS = "2.23.140.1.4.1", "2.23.140.1.3", "2.23.140.1.4.2"
ANY_POLICY = "2.5.29.32.0"
PRINTABLE = {NameOID.COUNTRY_NAME, NameOID.JURISDICTION_COUNTRY_NAME,
             NameOID.SERIAL_NUMBER}
failed = 0


def check(name, cond, detail=""):
    global failed
    if cond:
        print("ok: %s" % name)
    else:
        failed += 1
        print("FAIL: %s%s" % (name, (" (%s)" % detail) if detail else ""))


def verify_sig(pub, sig, data, hash_alg):
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, data, ec.ECDSA(hash_alg))
        else:
            return False
        return True
    except Exception:
        return False


def load(name):
    try:
        with open(os.path.join(D, name + ".pem"), "rb") as f:
            c = x509.load_pem_x509_certificate(f.read())
        c.extensions  # parsed lazily: make every extension parse now
        check("%s: pyca parses the certificate and its extensions" % name, True)
        return c
    except Exception as e:
        check("%s: pyca parses the certificate and its extensions" % name,
              False, e)
        return None


def ext(c, oid):
    try:
        return c.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def policies(c):
    e = ext(c, X.CERTIFICATE_POLICIES)
    return set() if e is None else {
        p.policy_identifier.dotted_string for p in e.value}


def common(name, c, issuer, max_days=None):
    check("%s: version 3" % name, c.version == x509.Version.v3)
    s = c.serial_number
    check("%s: serial positive, 64..159 bits" % name,
          s > 0 and 64 <= s.bit_length() <= 159, s.bit_length())
    check("%s: issuer name is the issuer's subject (bytes)" % name,
          c.issuer.public_bytes() == issuer.subject.public_bytes())
    check("%s: signature verifies with the issuer's key" % name,
          verify_sig(issuer.public_key(), c.signature,
                     c.tbs_certificate_bytes, c.signature_hash_algorithm))
    span = c.not_valid_after - c.not_valid_before
    check("%s: validity counted inclusively (N days - 1 s)" % name,
          span.total_seconds() % 86400 == 86399, span)
    check("%s: validity within the issuer's" % name,
          issuer.not_valid_before <= c.not_valid_before and
          c.not_valid_after <= issuer.not_valid_after)
    if max_days is not None:
        check("%s: validity at most %d days" % (name, max_days),
              span <= max_days * DAY, span)
    rdns = c.subject.rdns
    check("%s: one attribute per RDN" % name,
          all(len(r) == 1 for r in rdns))
    for a in c.subject:
        want = (_ASN1Type.PrintableString if a.oid in PRINTABLE
                else _ASN1Type.UTF8String)
        check("%s: subject %s is a %s" % (name, a.oid._name, want.name),
              a._type == want, a._type)
        if a.oid in (NameOID.COUNTRY_NAME, NameOID.JURISDICTION_COUNTRY_NAME):
            check("%s: %s is two capitals, not user-assigned" %
                  (name, a.oid._name),
                  len(a.value) == 2 and a.value.isupper() and a.value not in
                  ("XX", "ZZ", "AA") and not a.value.startswith("Q"))
    ski = ext(c, X.SUBJECT_KEY_IDENTIFIER)
    check("%s: subjectKeyIdentifier present" % name, ski is not None)
    if c is not issuer:
        aki = ext(c, X.AUTHORITY_KEY_IDENTIFIER)
        iski = ext(issuer, X.SUBJECT_KEY_IDENTIFIER)
        check("%s: authorityKeyIdentifier = issuer's SKI" % name,
              aki is not None and iski is not None and
              aki.value.key_identifier == iski.value.digest)


def ca_cert(name, c, issuer, eku, want_policies):
    common(name, c, issuer)
    bc = ext(c, X.BASIC_CONSTRAINTS)
    check("%s: basicConstraints critical, CA:TRUE" % name,
          bc is not None and bc.critical and bc.value.ca)
    ku = ext(c, X.KEY_USAGE)
    check("%s: keyUsage critical with keyCertSign and cRLSign" % name,
          ku is not None and ku.critical and ku.value.key_cert_sign and
          ku.value.crl_sign)
    e = ext(c, X.EXTENDED_KEY_USAGE)
    if eku is None:
        check("%s: no extendedKeyUsage" % name, e is None)
    else:
        check("%s: extendedKeyUsage is %s only" % (name, eku._name),
              e is not None and list(e.value) == [eku])
    p = policies(c)
    check("%s: certificatePolicies %s" % (name, sorted(want_policies)),
          p == set(want_policies), sorted(p))
    check("%s: no anyPolicy" % name, ANY_POLICY not in p)


def leaf(name, c, issuer, is_ev):
    common(name, c, issuer, 460)
    bc = ext(c, X.BASIC_CONSTRAINTS)
    check("%s: not a CA" % name, bc is None or not bc.value.ca)
    ku = ext(c, X.KEY_USAGE)
    check("%s: keyUsage critical, digitalSignature only" % name,
          ku is not None and ku.critical and ku.value.digital_signature and
          not ku.value.key_cert_sign and not ku.value.crl_sign and
          not ku.value.content_commitment and
          not ku.value.key_encipherment and not ku.value.data_encipherment)
    e = ext(c, X.EXTENDED_KEY_USAGE)
    check("%s: extendedKeyUsage codeSigning only" % name,
          e is not None and list(e.value) == [EKU.CODE_SIGNING])
    p = policies(c)
    want = EV if is_ev else CS
    check("%s: policy %s, not the other" % (name, want),
          want in p and (CS if is_ev else EV) not in p, sorted(p))
    check("%s: CRL distribution point over http" % name,
          ext(c, X.CRL_DISTRIBUTION_POINTS) is not None and any(
              n.value.startswith("http://")
              for dp in ext(c, X.CRL_DISTRIBUTION_POINTS).value
              for n in dp.full_name))
    aia = ext(c, X.AUTHORITY_INFORMATION_ACCESS)
    methods = {d.access_method._name for d in aia.value} if aia else set()
    check("%s: AIA with caIssuers and OCSP" % name,
          {"caIssuers", "OCSP"} <= methods, methods)
    o = c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    check("%s: one O and one CN" % name, len(o) == 1 and len(cn) == 1)
    if is_ev:
        for oid in (NameOID.BUSINESS_CATEGORY,
                    NameOID.JURISDICTION_COUNTRY_NAME, NameOID.SERIAL_NUMBER):
            check("%s: EV subject has %s" % (name, oid._name),
                  len(c.subject.get_attributes_for_oid(oid)) == 1)
        bcat = c.subject.get_attributes_for_oid(NameOID.BUSINESS_CATEGORY)
        check("%s: businessCategory is one of the four" % name,
              bcat and bcat[0].value in (
                  "Private Organization", "Government Entity",
                  "Business Entity", "Non-Commercial Entity"))
    check("%s: no domainComponent" % name,
          not c.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT))


def tsa_cert(name, c, issuer):
    common(name, c, issuer)
    ku = ext(c, X.KEY_USAGE)
    check("%s: keyUsage critical, digitalSignature" % name,
          ku is not None and ku.critical and ku.value.digital_signature and
          not ku.value.key_cert_sign)
    e = ext(c, X.EXTENDED_KEY_USAGE)
    check("%s: extendedKeyUsage critical, timeStamping only" % name,
          e is not None and e.critical and
          list(e.value) == [EKU.TIME_STAMPING])
    check("%s: policy 2.23.140.1.4.2" % name, TS in policies(c))
    aia = ext(c, X.AUTHORITY_INFORMATION_ACCESS)
    methods = {d.access_method._name for d in aia.value} if aia else set()
    check("%s: AIA names an OCSP responder (CSBR 7.1.2.3 c)" % name,
          "OCSP" in methods, methods)


def crl(name, issuer, revoked_serial=None):
    try:
        with open(os.path.join(D, name), "rb") as f:
            c = x509.load_der_x509_crl(f.read())
    except Exception as e:
        check("%s: pyca parses the CRL (strict DER)" % name, False, e)
        return
    check("%s: pyca parses the CRL (strict DER)" % name, True)
    check("%s: signature valid for the issuer" % name,
          c.is_signature_valid(issuer.public_key()))
    check("%s: issuer is the CA's subject" % name,
          c.issuer.public_bytes() == issuer.subject.public_bytes())
    check("%s: nextUpdate at most 10 days after thisUpdate (CSBR 4.9.7)" %
          name, c.next_update is not None and
          c.next_update - c.last_update <= 10 * DAY)
    now = datetime.datetime.utcnow()
    check("%s: thisUpdate within the last 7 days" % name,
          now - 7 * DAY <= c.last_update <= now + datetime.timedelta(minutes=5))
    try:
        c.extensions.get_extension_for_oid(X.CRL_NUMBER)
        c.extensions.get_extension_for_oid(X.AUTHORITY_KEY_IDENTIFIER)
        has = True
    except x509.ExtensionNotFound:
        has = False
    check("%s: CRL number and AKI present" % name, has)
    if revoked_serial is not None:
        r = c.get_revoked_certificate_by_serial_number(revoked_serial)
        check("%s: lists serial %X" % (name, revoked_serial), r is not None)


def ocsp_answer(name, issuer, want):
    try:
        with open(os.path.join(D, name), "rb") as f:
            r = ocsp.load_der_ocsp_response(f.read())
    except Exception as e:
        check("%s: pyca parses the OCSP response (strict DER)" % name,
              False, e)
        return
    check("%s: pyca parses the OCSP response (strict DER)" % name, True)
    check("%s: successful" % name,
          r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL)
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return
    check("%s: certStatus %s" % (name, want),
          r.certificate_status.name.lower() == want, r.certificate_status)
    check("%s: the issuing CA signs it and does not embed itself" % name,
          r.certificates == [], len(r.certificates))
    check("%s: signature verifies with the issuing CA's key" % name,
          verify_sig(issuer.public_key(), r.signature,
                     r.tbs_response_bytes, r.signature_hash_algorithm))
    check("%s: nextUpdate at most 10 days after thisUpdate" % name,
          r.next_update is not None and
          r.next_update - r.this_update <= 10 * DAY)


root = load("root")
cs = load("codesigning")
tsca = load("timestamping")
aroot = load("attest-root")
aiss = load("attest-issuer")
tsa = load("tsa")
lf = load("leaf")
ev = load("ev")
if root:
    ca_cert("root", root, root, None, [])
    if cs:
        ca_cert("codesigning CA", cs, root, EKU.CODE_SIGNING, [CS, EV])
    if tsca:
        ca_cert("timestamping CA", tsca, root, EKU.TIME_STAMPING, [TS])
if aroot:
    common("attestation root", aroot, aroot)
    if aiss:
        common("attestation issuer", aiss, aroot)
if tsa and tsca:
    tsa_cert("TSA", tsa, tsca)
    span = tsa.not_valid_after - tsa.not_valid_before
    check("TSA: validity at most 135 months (CSBR 6.3.2)", span <= 4110 * DAY)
if tsca:
    span = tsca.not_valid_after - tsca.not_valid_before
    check("timestamping CA: validity at most 72 months (CSBR 6.3.2)",
          span <= 2192 * DAY, span)
if cs and lf:
    leaf("leaf", lf, cs, False)
if cs and ev:
    leaf("EV leaf", ev, cs, True)
try:
    from cryptography.hazmat.primitives.serialization import pkcs7
    with open(os.path.join(D, "token.der"), "rb") as f:
        tok_certs = pkcs7.load_der_pkcs7_certificates(f.read())
    check("time-stamp token: pyca parses it as PKCS#7 SignedData", True)
    check("time-stamp token: carries the TSA certificate", tsa is not None and
          any(c == tsa for c in tok_certs), len(tok_certs))
except Exception as e:
    check("time-stamp token: pyca parses it as PKCS#7 SignedData", False, e)
serials = {}
for line in open(os.path.join(D, "serials.txt")):
    k, v = line.split()
    serials[k] = int(v, 16)
if cs:
    crl("codesigning.crl", cs, serials.get("revoked"))
if tsca:
    crl("timestamping.crl", tsca)
if cs:
    ocsp_answer("ocsp-good.der", cs, "good")
    ocsp_answer("ocsp-revoked.der", cs, "revoked")
    ocsp_answer("ocsp-unknown.der", cs, "unknown")
print("%d failed" % failed)
sys.exit(1 if failed else 0)
