# Unit tests for src/ipc: the keeper protocol's codec.
# Included from tests/unit/CMakeLists.txt, which defines sn_unit_test().
sn_unit_test(test_ipc_proto ${CMAKE_CURRENT_LIST_DIR}/test_ipc_proto.c)
target_link_libraries(test_ipc_proto PRIVATE sn_ipc_proto)
# The client against a fake keeper that injects bad replies.
sn_unit_test(test_ipc_client ${CMAKE_CURRENT_LIST_DIR}/test_ipc_client.c)
target_link_libraries(test_ipc_client PRIVATE sn_ipc Threads::Threads)
