{
  "targets": [
    {
      "target_name": "shoal",
      "sources": [
        "native/accounting.cc",
        "native/addon.cc",
        "native/allocator.cc",
        "native/cpu_features.cc",
        "native/crc32c.cc",
        "native/distance.cc",
        "native/file_lock.cc",
        "native/filter_search.cc",
        "native/js_call.cc",
        "native/memory_estimate.cc",
        "native/os_file.cc",
        "native/process_exports.cc",
        "native/registry.cc",
        "native/segment.cc",
        "native/segment_exports.cc",
        "native/segment_file.cc",
        "native/segment_format.cc",
        "native/segment_spec.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker thread is terminated while it
      # runs addon code (loading the addon, say), node-addon-api's error cannot be thrown into
      # the dying thread; without this it is rethrown as a C++ exception and std::terminate()
      # aborts the whole process.
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-fno-strict-aliasing",
        "-fvisibility=hidden",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-parameter",
        "-isystem", "<!(node scripts/hnswlib-include.cjs)"
      ],
      # counted_alloc.h goes first into every file: it routes the addon's allocations to
      # accounting.cc (native/accounting.h). exports.map (linux) and exports.txt (macOS) keep
      # everything but the Node-API entry points, the replaced operator new/delete included,
      # inside the library; a Windows DLL exports only what is marked dllexport.
      "conditions": [
        ["OS=='linux' or OS=='freebsd'", {
          "cflags_cc": ["-include", "<(module_root_dir)/native/counted_alloc.h"],
          "ldflags": ["-Wl,--version-script=<(module_root_dir)/native/exports.map"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": [
              "-std=c++17", "-O3", "-fno-strict-aliasing", "-fvisibility=hidden",
              "-include", "<(module_root_dir)/native/counted_alloc.h",
              "-isystem", "<!(node scripts/hnswlib-include.cjs)"
            ],
            "OTHER_LDFLAGS": ["-Wl,-exported_symbols_list,<(module_root_dir)/native/exports.txt"]
          }
        }],
        ["OS=='win'", {
          "include_dirs": ["<!(node scripts/hnswlib-include.cjs)"],
          "msvs_settings": {
            "VCCLCompilerTool": {
              "AdditionalOptions": ["/std:c++17", "/O2", "/EHsc"],
              "ForcedIncludeFiles": ["<(module_root_dir)/native/counted_alloc.h"]
            }
          },
          "defines": ["NOMINMAX", "WIN32_LEAN_AND_MEAN"]
        }]
      ]
    }
  ]
}
