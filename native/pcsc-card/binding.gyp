{
  "targets": [
    {
      "target_name": "pcsc_card",
      "sources": ["src/pcsc_card.c"],
      "conditions": [
        ["OS=='linux'", {
          "cflags": ["<!@(pkg-config --cflags libpcsclite)"],
          "libraries": ["<!@(pkg-config --libs libpcsclite)"]
        }],
        ["OS=='mac'", {
          "libraries": ["-framework PCSC"]
        }],
        ["OS=='win'", {
          "libraries": ["-lwinscard"]
        }]
      ]
    }
  ]
}
