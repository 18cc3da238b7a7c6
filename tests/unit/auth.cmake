# Issue 17: the factors of people's accounts (src/auth password, totp,
# recovery). test_totp runs oathtool (scripts/deps.sh) for its codes.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_password ${CMAKE_CURRENT_LIST_DIR}/test_password.c)
target_link_libraries(test_password PRIVATE sn_auth)

sn_unit_test(test_totp ${CMAKE_CURRENT_LIST_DIR}/test_totp.c)
target_link_libraries(test_totp PRIVATE sn_auth sn_common)

sn_unit_test(test_recovery ${CMAKE_CURRENT_LIST_DIR}/test_recovery.c)
target_link_libraries(test_recovery PRIVATE sn_auth)
