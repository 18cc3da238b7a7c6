# Unit tests for src/apiclient against a one-shot local TLS server.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_apiclient ${CMAKE_CURRENT_SOURCE_DIR}/test_apiclient.c)
target_link_libraries(test_apiclient PRIVATE sn_apiclient sn_crypto
                      OpenSSL::SSL Threads::Threads)

# The OIDC client's pure parsers (issue 16): ID token shape, GitHub
# Actions' answer, the exchange's grant.
sn_unit_test(test_oidcreply ${CMAKE_CURRENT_SOURCE_DIR}/test_oidcreply.c)
target_link_libraries(test_oidcreply PRIVATE sn_oidcreply)

# Issue 17: the CLI's stored login session (src/cli/sessionfile.c, built
# into the test: the CLI is a program, not a library).
sn_unit_test(test_sessionfile ${CMAKE_CURRENT_SOURCE_DIR}/test_sessionfile.c
             ${CMAKE_SOURCE_DIR}/src/cli/sessionfile.c
             ${CMAKE_SOURCE_DIR}/src/cli/output.c)
target_link_libraries(test_sessionfile PRIVATE sn_common PkgConfig::JANSSON
                      OpenSSL::Crypto)
