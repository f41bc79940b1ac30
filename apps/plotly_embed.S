/* Plotly.js, embedded at build time (scripts/fetch-plotly.sh puts the file in
   third_party/plotly/): apd-report writes it into every page, so reports open
   offline. APD_PLOTLY_JS is the file's path, passed by CMake. */
    .section .rodata
    .global apd_plotly_js_begin
    .global apd_plotly_js_end
apd_plotly_js_begin:
    .incbin APD_PLOTLY_JS
apd_plotly_js_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
