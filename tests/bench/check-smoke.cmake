# bench_smoke: runs a small hub-bench and checks that nothing was lost (not how fast).
# Usage: cmake -DBENCH=path/to/hub-bench -DHUBD=path/to/hubd -P check-smoke.cmake
set(messages 2000)
execute_process(
    COMMAND ${BENCH} --hubd ${HUBD} --messages ${messages} --publishers 2 --subscribers 2
            --json
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 100)
message(STATUS "hub-bench said: ${out}")
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "hub-bench exited with ${rc}\nstderr: ${err}")
endif()
foreach(field delivered_min delivered_max acked)
    string(JSON value GET "${out}" ${field})
    if(NOT value EQUAL messages)
        message(FATAL_ERROR "${field} is ${value}, expected ${messages}")
    endif()
endforeach()
foreach(field refused out_of_order)
    string(JSON value GET "${out}" ${field})
    if(NOT value EQUAL 0)
        message(FATAL_ERROR "${field} is ${value}, expected 0")
    endif()
endforeach()
string(JSON ok GET "${out}" ok)
if(NOT ok)
    message(FATAL_ERROR "hub-bench reported ok = ${ok}")
endif()
