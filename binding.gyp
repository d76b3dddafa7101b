{
  "targets": [
    {
      "target_name": "blockcopy",
      "sources": [
        "native/addon.cpp",
        "native/args.cpp",
        "native/errors.cpp",
        "native/direct_io.cpp",
        "native/extents.cpp",
        "native/loop.cpp",
        "native/offload.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GNU_SOURCE",
        "_FILE_OFFSET_BITS=64"
      ],
      "cflags!": ["-O3"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17"]
    }
  ]
}
