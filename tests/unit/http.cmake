# Unit tests for the HTTP front end's pure parts (router) and the policy.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_router ${CMAKE_CURRENT_LIST_DIR}/test_router.c)
target_link_libraries(test_router PRIVATE sn_http Threads::Threads)

sn_unit_test(test_policy ${CMAKE_CURRENT_LIST_DIR}/test_policy.c)
target_link_libraries(test_policy PRIVATE sn_policy)

sn_unit_test(test_bodies ${CMAKE_CURRENT_LIST_DIR}/test_bodies.c)
target_link_libraries(test_bodies PRIVATE sn_http_bodies)

# issue 15: failed TLS handshakes, one line per client address a minute.
sn_unit_test(test_peerlog ${CMAKE_CURRENT_LIST_DIR}/test_peerlog.c)
target_link_libraries(test_peerlog PRIVATE sn_http Threads::Threads)
sn_unit_test(test_pool ${CMAKE_CURRENT_LIST_DIR}/test_pool.c)
target_link_libraries(test_pool PRIVATE sn_http Threads::Threads)

sn_unit_test(test_ratelimit ${CMAKE_CURRENT_LIST_DIR}/test_ratelimit.c)
target_link_libraries(test_ratelimit PRIVATE sn_http)

# issue 16: a key's signing policy (CIDR, windows, strict parsing, the
# decision per way of proving) and its quota counters.
sn_unit_test(test_keypolicy ${CMAKE_CURRENT_LIST_DIR}/test_keypolicy.c)
target_link_libraries(test_keypolicy PRIVATE sn_policy Threads::Threads)
# issue 16: the OIDC parsers' edges (strict base64url, JWT header refusals,
# trust-policy rules).
sn_unit_test(test_oidc_parse ${CMAKE_CURRENT_SOURCE_DIR}/test_oidc_parse.c)
target_link_libraries(test_oidc_parse PRIVATE sn_auth)
# issue 17: failed logins per client address.
sn_unit_test(test_loginguard ${CMAKE_CURRENT_LIST_DIR}/test_loginguard.c)
target_link_libraries(test_loginguard PRIVATE sn_http Threads::Threads)
# The PROXY protocol v2 header (proxy.protocol = v2): every refusal.
sn_unit_test(test_proxyproto ${CMAKE_CURRENT_LIST_DIR}/test_proxyproto.c)
target_link_libraries(test_proxyproto PRIVATE sn_http_proxyproto)
# Bare LF, obs-fold and bare CR in a request head, found in what the
# linked libmicrohttpd leaves of it (a real daemon on loopback).
sn_unit_test(test_headlines ${CMAKE_CURRENT_LIST_DIR}/test_headlines.c)
target_link_libraries(test_headlines PRIVATE sn_http_headlines PkgConfig::MHD)
