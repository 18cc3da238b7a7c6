# Unit tests for src/pki (TSA, OCSP, CRL) with software signers and a real
# SQLite store; the openssl command-line tool judges what they sign.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
find_program(SN_OPENSSL_BIN openssl REQUIRED)
add_library(pki_fixture STATIC ${CMAKE_CURRENT_LIST_DIR}/pki_fixture.c)
target_include_directories(pki_fixture PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(pki_fixture PUBLIC sn_pki sn_store sn_test_support
                      PkgConfig::CMOCKA)
foreach(t tsa ocsp crl)
  sn_unit_test(test_pki_${t} ${CMAKE_CURRENT_LIST_DIR}/test_pki_${t}.c)
  target_link_libraries(test_pki_${t} PRIVATE pki_fixture)
  target_compile_definitions(test_pki_${t} PRIVATE
                             SN_OPENSSL_BIN="${SN_OPENSSL_BIN}")
endforeach()
