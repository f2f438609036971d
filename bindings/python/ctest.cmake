# Python binding tests for CTest. include() this file from native-tests/CMakeLists.txt or the root CMakeLists.txt
# after FWS_SO (the path of the built libfiberws.so) is set and enable_testing() was called.
#
#   python_binding          pytest over bindings/python/tests with FIBERWS_LIBRARY=${FWS_SO}
#   python_package_install  pip-installs the package (library copied in) into a temporary --target directory,
#                           offline (--no-index --no-build-isolation: Debian's pip, setuptools and wheel), then
#                           imports it from another directory with PYTHONPATH only (no FIBERWS_LIBRARY) and runs
#                           an echo round trip
#
# Needs the Debian packages python3-pytest python3-websockets python3-setuptools python3-wheel python3-pip
# (and binutils for nm). A missing one fails the test loudly; nothing is skipped.
if(NOT DEFINED FWS_SO)
    message(FATAL_ERROR "bindings/python/ctest.cmake: set FWS_SO (the built libfiberws.so) before including it")
endif()
set(FWS_PYTHON /usr/bin/python3 CACHE FILEPATH "Python interpreter for the Python binding tests (Debian's)")
set(_fws_py_dir ${CMAKE_CURRENT_LIST_DIR})

add_test(NAME python_binding
    COMMAND ${FWS_PYTHON} -m pytest -q -p no:cacheprovider ${_fws_py_dir}/tests)
set_tests_properties(python_binding PROPERTIES
    ENVIRONMENT "FIBERWS_LIBRARY=${FWS_SO}"
    TIMEOUT 600)

add_test(NAME python_package_install
    COMMAND ${FWS_PYTHON} ${_fws_py_dir}/tests/install_check.py ${FWS_SO})
set_tests_properties(python_package_install PROPERTIES TIMEOUT 300)
