# cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed_text.cmake
# Writes OUT defining `const char SYMBOL[]` with IN's bytes and a final NUL,
# so a JSON file can be edited as JSON and still be linked in as a string.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN}; edit that file */\nconst char ${SYMBOL}[] = {\n${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
