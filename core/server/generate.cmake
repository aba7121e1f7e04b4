# The core's own OpenAPI description (openapi_core.json), linked in as the
# string krc_openapi_core_json (kirana_embed_text, sdk/CMakeLists.txt).
set(KRC_OPENAPI_CORE_C ${CMAKE_BINARY_DIR}/generated/openapi_core.c)
kirana_embed_text(${CMAKE_CURRENT_SOURCE_DIR}/server/openapi_core.json ${KRC_OPENAPI_CORE_C} krc_openapi_core_json)
list(APPEND KRC_GENERATED_SOURCES ${KRC_OPENAPI_CORE_C})
