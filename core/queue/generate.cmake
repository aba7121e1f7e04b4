# BullMQ's Lua scripts, extracted at build time from the bullmq npm package
# that package-lock.json pins, into ${CMAKE_BINARY_DIR}/generated. The scripts
# are never copied into the source tree; bullmq's MIT license travels with
# the build and the installed binary.
find_program(KRC_NODE node)
if(NOT KRC_NODE)
  message(FATAL_ERROR "node is needed to extract BullMQ's scripts: run scripts/deps.sh")
endif()

set(KRC_BULLMQ_DIR ${PROJECT_SOURCE_DIR}/node_modules/bullmq)
set(KRC_BULLMQ_HEADER ${CMAKE_BINARY_DIR}/generated/bullmq_scripts.h)
set(KRC_BULLMQ_LICENSE ${CMAKE_BINARY_DIR}/share/doc/kirana/LICENSE.bullmq)
set(KRC_BULLMQ_EXTRACT ${PROJECT_SOURCE_DIR}/scripts/extract-bullmq-scripts.js)

# Rebuild when the pin or the installed package changes. A missing package is
# reported by the script itself ("run scripts/deps.sh (npm ci)"), so it is a
# dependency only once it exists.
set(krc_bullmq_depends ${KRC_BULLMQ_EXTRACT} ${PROJECT_SOURCE_DIR}/package-lock.json)
if(EXISTS ${KRC_BULLMQ_DIR}/package.json)
  list(APPEND krc_bullmq_depends ${KRC_BULLMQ_DIR}/package.json)
endif()

add_custom_command(
  OUTPUT ${KRC_BULLMQ_HEADER} ${KRC_BULLMQ_LICENSE}
  COMMAND ${KRC_NODE} ${KRC_BULLMQ_EXTRACT} ${KRC_BULLMQ_DIR} ${KRC_BULLMQ_HEADER} ${KRC_BULLMQ_LICENSE}
  DEPENDS ${krc_bullmq_depends}
  COMMENT "Extracting BullMQ's Lua scripts from ${KRC_BULLMQ_DIR}"
  VERBATIM)

list(APPEND KRC_GENERATED_SOURCES ${KRC_BULLMQ_HEADER} ${KRC_BULLMQ_LICENSE})
install(FILES ${KRC_BULLMQ_LICENSE} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/kirana)
