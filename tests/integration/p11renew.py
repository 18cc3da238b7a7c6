#!/usr/bin/env python3
"""
p11renew.py: one long-lived PKCS#11 application (PyKCS11, which shares no
code with Signet) that signs twice with libsignet-pkcs11.so, for
test_oidc_client.sh's renewal checks.

  p11renew.py MODULE KEY_ID_HEX DATA OUT1 OUT2 WAIT [REFRESH...]

Signs DATA with CKM_ECDSA_SHA256 and the key whose CKA_ID is KEY_ID_HEX,
never calling C_Login (the module's token comes from its ID token). Writes
the DER signature to OUT1; then runs REFRESH... (if given: it writes a
fresh ID token), waits WAIT seconds (past the first Signet token's expiry)
and signs again into OUT2. Exit 0 if both signatures were made, 3 if the
second failed (the CKR_ name on stdout), 2 if the first failed.
"""
import subprocess
import sys
import time

import PyKCS11
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

module, key_hex, data_path, out1, out2, wait = sys.argv[1:7]
refresh = sys.argv[7:]
data = open(data_path, "rb").read()

lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = lib.getSlotList(tokenPresent=True)[0]
session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)


def sign(out):
    keys = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                                (PyKCS11.CKA_ID, bytes.fromhex(key_hex))])
    if not keys:
        raise PyKCS11.PyKCS11Error(PyKCS11.CKR_KEY_HANDLE_INVALID)
    raw = bytes(session.sign(keys[0], data,
                             PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
    half = len(raw) // 2
    der = encode_dss_signature(int.from_bytes(raw[:half], "big"),
                               int.from_bytes(raw[half:], "big"))
    open(out, "wb").write(der)


try:
    sign(out1)
except PyKCS11.PyKCS11Error as e:
    print("first:", e)
    sys.exit(2)
if refresh:
    subprocess.run(refresh, check=True, timeout=60)
time.sleep(float(wait))
try:
    sign(out2)
except PyKCS11.PyKCS11Error as e:
    print("second:", e)
    sys.exit(3)
session.closeSession()
lib = None
