# Unit tests for src/apiclient against a one-shot local TLS server.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_apiclient ${CMAKE_CURRENT_SOURCE_DIR}/test_apiclient.c)
target_link_libraries(test_apiclient PRIVATE sn_apiclient sn_crypto
                      OpenSSL::SSL Threads::Threads)

# The OIDC client's pure parsers (issue 16): ID token shape, GitHub
# Actions' answer, the exchange's grant.
sn_unit_test(test_oidcreply ${CMAKE_CURRENT_SOURCE_DIR}/test_oidcreply.c)
target_link_libraries(test_oidcreply PRIVATE sn_oidcreply)
