# Unit tests for src/pkcs11's pure reply parser (DigestInfo, ECDSA DER).
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
if(TARGET sn_p11reply)
  sn_unit_test(test_p11reply ${CMAKE_CURRENT_SOURCE_DIR}/test_p11reply.c)
  target_link_libraries(test_p11reply PRIVATE sn_p11reply)
endif()

# The module's configuration and its one-line reports (issue 15): conf.c
# is compiled in, as the module itself is a shared library.
if(TARGET signet-pkcs11)
  sn_unit_test(test_p11conf ${CMAKE_CURRENT_SOURCE_DIR}/test_p11conf.c
               ${PROJECT_SOURCE_DIR}/src/pkcs11/conf.c)
  target_link_libraries(test_p11conf PRIVATE sn_apiclient sn_common
                        OpenSSL::Crypto)
endif()
