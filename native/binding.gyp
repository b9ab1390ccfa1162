{
  # The native transport's addon: system calls only (native/localhost_native.c). Built by scripts/build-native.mjs
  # during `npm install`; the server runs without it (node:net) when it is absent.
  "targets": [
    {
      "target_name": "localhost_native",
      "sources": ["localhost_native.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fno-strict-aliasing"],
      "cflags_c": ["-std=gnu11"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
