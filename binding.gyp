{
  "targets": [
    {
      "target_name": "airlock_native",
      "sources": ["native/airlock_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
