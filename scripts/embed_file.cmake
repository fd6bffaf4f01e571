# embed_file.cmake -- write file IN as a C byte array to OUT.
# cmake -DIN=path -DOUT=path -P embed_file.cmake
# Defines am_embedded[] (NUL-terminated) and am_embedded_len (without NUL).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by scripts/embed_file.cmake. */\n"
  "static const unsigned char am_embedded[] = {\n${bytes}0x00 };\n"
  "static const size_t am_embedded_len = ${len};\n")
file(RENAME ${OUT}.tmp ${OUT})
