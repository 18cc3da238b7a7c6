# signetd's configuration parser: pure (no HTTP, no HSM), unit-tested.
# Included from src/daemon/CMakeLists.txt.
add_library(sn_config STATIC ${CMAKE_CURRENT_SOURCE_DIR}/config.c)
target_link_libraries(sn_config PUBLIC sn_pki_modules sn_translog sn_policy sn_common
                      PkgConfig::CURL)
