{
  "targets": [
    {
      "target_name": "shoal",
      "sources": [
        "native/accounting.cc",
        "native/addon.cc",
        "native/allocator.cc",
        "native/crc32c.cc",
        "native/distance.cc",
        "native/file_lock.cc",
        "native/filter_search.cc",
        "native/js_call.cc",
        "native/memory_estimate.cc",
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
      "ldflags": [
        "-Wl,--version-script=<(module_root_dir)/native/exports.map",
        "-Wl,--wrap=malloc",
        "-Wl,--wrap=calloc",
        "-Wl,--wrap=realloc",
        "-Wl,--wrap=free",
        "-Wl,--wrap=_Znwm",
        "-Wl,--wrap=_Znam",
        "-Wl,--wrap=_ZnwmRKSt9nothrow_t",
        "-Wl,--wrap=_ZnamRKSt9nothrow_t",
        "-Wl,--wrap=_ZdlPv",
        "-Wl,--wrap=_ZdaPv",
        "-Wl,--wrap=_ZdlPvm",
        "-Wl,--wrap=_ZdaPvm"
      ]
    }
  ]
}
