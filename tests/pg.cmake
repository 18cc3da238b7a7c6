# A private PostgreSQL server (scripts/pg.sh) for the tests that run on the
# PostgreSQL backend: started once per ctest run (fixture "pg"), each test
# in databases of its own. SIGNET_TEST_STORE=postgresql also runs the
# integration suite on it (make test does so in the sanitizer build; the
# plain build runs it on SQLite).
set(SIGNET_TEST_STORE "sqlite" CACHE STRING
    "The store the integration tests run on: sqlite or postgresql")
set(SIGNET_PG_DIR ${CMAKE_BINARY_DIR}/pg)
add_test(NAME pg/start
         COMMAND ${CMAKE_SOURCE_DIR}/scripts/pg.sh start ${SIGNET_PG_DIR})
set_tests_properties(pg/start PROPERTIES FIXTURES_SETUP pg TIMEOUT 120)
add_test(NAME pg/stop
         COMMAND ${CMAKE_SOURCE_DIR}/scripts/pg.sh stop ${SIGNET_PG_DIR})
set_tests_properties(pg/stop PROPERTIES FIXTURES_CLEANUP pg TIMEOUT 120)

# sn_pg_test(NAME): the test NAME runs with the server
function(sn_pg_test name)
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED pg)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
               SIGNET_TEST_PG_DIR=${SIGNET_PG_DIR})
endfunction()
