# Unit tests for src/common, crypto/apitoken and daemon/config.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_util ${CMAKE_CURRENT_SOURCE_DIR}/test_util.c)
target_link_libraries(test_util PRIVATE sn_common)

sn_unit_test(test_buf ${CMAKE_CURRENT_SOURCE_DIR}/test_buf.c)
target_link_libraries(test_buf PRIVATE sn_common)

sn_unit_test(test_keyalg ${CMAKE_CURRENT_SOURCE_DIR}/test_keyalg.c)
target_link_libraries(test_keyalg PRIVATE sn_common)

sn_unit_test(test_apitoken ${CMAKE_CURRENT_SOURCE_DIR}/test_apitoken.c)
target_link_libraries(test_apitoken PRIVATE sn_crypto)

sn_unit_test(test_config ${CMAKE_CURRENT_SOURCE_DIR}/test_config.c)
target_link_libraries(test_config PRIVATE sn_config)

# issue 15: the log's one line format.
sn_unit_test(test_log ${CMAKE_CURRENT_SOURCE_DIR}/test_log.c)
target_link_libraries(test_log PRIVATE sn_common)

# Issue 17: base32 for TOTP secrets.
sn_unit_test(test_base32 ${CMAKE_CURRENT_SOURCE_DIR}/test_base32.c)
target_link_libraries(test_base32 PRIVATE sn_common)

# issue 18: the transparency log's tree, proofs, tiles, entries and notes.
sn_unit_test(test_translog ${CMAKE_CURRENT_SOURCE_DIR}/test_translog.c)
target_link_libraries(test_translog PRIVATE sn_translog)
