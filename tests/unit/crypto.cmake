# Crypto layer unit tests. The cmocka binaries check structure and error
# paths; verify_crypto.sh re-runs them with SN_CRYPTO_OUT set and has the
# openssl command-line tool (an independent verifier) judge the artifacts.
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)

sn_unit_test(test_cms ${CMAKE_CURRENT_LIST_DIR}/test_cms.c)
target_link_libraries(test_cms PRIVATE sn_crypto)

sn_unit_test(test_x509util ${CMAKE_CURRENT_LIST_DIR}/test_x509util.c)
target_link_libraries(test_x509util PRIVATE sn_crypto)

sn_unit_test(test_subject ${CMAKE_CURRENT_LIST_DIR}/test_subject.c)
target_link_libraries(test_subject PRIVATE sn_crypto)

sn_unit_test(test_attest ${CMAKE_CURRENT_LIST_DIR}/test_attest.c)
target_link_libraries(test_attest PRIVATE sn_crypto)

sn_unit_test(test_tlsgen ${CMAKE_CURRENT_LIST_DIR}/test_tlsgen.c)
target_link_libraries(test_tlsgen PRIVATE sn_crypto PkgConfig::GNUTLS)

find_program(SN_OPENSSL_BIN openssl REQUIRED)
foreach(what cms csr tls)
  add_test(NAME crypto/verify_${what}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/verify_crypto.sh ${what}
                   ${SN_OPENSSL_BIN} $<TARGET_FILE_DIR:test_cms>)
  set_tests_properties(crypto/verify_${what} PROPERTIES TIMEOUT 300)
endforeach()

# Key attestation: openssl judges the certificates and CSRs test_attest
# writes, and the signet CLI's offline verifier must agree.
add_test(NAME crypto/verify_attest
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/verify_attest.sh ${SN_OPENSSL_BIN}
                 $<TARGET_FILE_DIR:test_attest> $<TARGET_FILE:signet>)
set_tests_properties(crypto/verify_attest PROPERTIES TIMEOUT 300)

# Uploaded certificate chains: code signing to the operator's anchors.
sn_unit_test(test_chain ${CMAKE_CURRENT_LIST_DIR}/test_chain.c)
target_link_libraries(test_chain PRIVATE sn_crypto)
# Issue 16, mTLS: PKCS#11 URIs (common) and subject rules (crypto).
sn_unit_test(test_mtls ${CMAKE_CURRENT_LIST_DIR}/test_mtls.c)
target_link_libraries(test_mtls PRIVATE sn_crypto sn_common)
# Issue 18: report evidence (PKCS#7 signer values, raw signatures).
sn_unit_test(test_evidence ${CMAKE_CURRENT_LIST_DIR}/test_evidence.c)
target_link_libraries(test_evidence PRIVATE sn_crypto)
