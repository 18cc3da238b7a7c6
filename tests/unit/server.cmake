# Unit tests for the server-side modules hsm (real SoftHSM2, and the
# fault-injecting p11shim over it) and store (real SQLite).
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_hsm ${CMAKE_CURRENT_LIST_DIR}/test_hsm.c)
target_link_libraries(test_hsm PRIVATE sn_hsm sn_common OpenSSL::Crypto
                      Threads::Threads)

# SoftHSM is process-global: one run per fault set, each its own ctest entry.
add_executable(test_hsm_faults ${CMAKE_CURRENT_LIST_DIR}/test_hsm_faults.c)
target_link_libraries(test_hsm_faults PRIVATE PkgConfig::CMOCKA sn_hsm
                      sn_test_support sn_common OpenSSL::Crypto
                      Threads::Threads)
target_compile_definitions(test_hsm_faults PRIVATE
                           SN_P11SHIM_PATH="$<TARGET_FILE:signet_p11shim>")
add_dependencies(test_hsm_faults signet_p11shim)
foreach(fault none stale_handle_once sign_error not_local extractable)
  add_test(NAME unit/test_hsm_faults/${fault}
           COMMAND test_hsm_faults ${fault} $<TARGET_FILE:signet_p11shim>)
  set_tests_properties(unit/test_hsm_faults/${fault} PROPERTIES TIMEOUT 120)
endforeach()

sn_unit_test(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c)
target_link_libraries(test_store PRIVATE sn_store sn_common PkgConfig::SQLITE PkgConfig::LIBPQ
                      Threads::Threads)
# The same tests on the PostgreSQL backend (tests/pg.cmake)
add_test(NAME unit/test_store_pg COMMAND test_store)
set_tests_properties(unit/test_store_pg PROPERTIES TIMEOUT 300)
sn_pg_test(unit/test_store_pg)

sn_unit_test(test_cache ${CMAKE_CURRENT_LIST_DIR}/test_cache.c)
target_link_libraries(test_cache PRIVATE sn_store Threads::Threads)

sn_unit_test(test_tally ${CMAKE_CURRENT_LIST_DIR}/test_tally.c)
target_link_libraries(test_tally PRIVATE sn_store Threads::Threads)

sn_unit_test(test_partitions ${CMAKE_CURRENT_LIST_DIR}/test_partitions.c)
target_link_libraries(test_partitions PRIVATE sn_daemon_core Threads::Threads)

sn_unit_test(test_metrics ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c)
target_link_libraries(test_metrics PRIVATE sn_http Threads::Threads)

# Issue 15: init's and check's base URL against the public listener; the
# reason a listener cannot bind.
sn_unit_test(test_home_net ${CMAKE_CURRENT_LIST_DIR}/test_home_net.c)
target_link_libraries(test_home_net PRIVATE sn_daemon_core Threads::Threads)

# Issue 17: sealing secrets with a key that stays in the token (SoftHSM2).
sn_unit_test(test_seal ${CMAKE_CURRENT_LIST_DIR}/test_seal.c)
target_link_libraries(test_seal PRIVATE sn_hsm sn_common PkgConfig::P11KIT
                      ${CMAKE_DL_LIBS} Threads::Threads)
