/* The report page's assets, embedded at build time so that apd-report needs
   no files beside it and every page opens offline. CMake passes each file's
   path: APD_PLOTLY_JS (scripts/fetch-plotly.sh), APD_REPORT_JS, APD_GALLERY_JS, APD_REPORT_CSS. */
    .section .rodata
    .global apd_plotly_js_begin
    .global apd_plotly_js_end
    .global apd_report_js_begin
    .global apd_report_js_end
    .global apd_gallery_js_begin
    .global apd_gallery_js_end
    .global apd_report_css_begin
    .global apd_report_css_end
apd_plotly_js_begin:
    .incbin APD_PLOTLY_JS
apd_plotly_js_end:
    .byte 0
apd_report_js_begin:
    .incbin APD_REPORT_JS
apd_report_js_end:
    .byte 0
apd_gallery_js_begin:
    .incbin APD_GALLERY_JS
apd_gallery_js_end:
    .byte 0
apd_report_css_begin:
    .incbin APD_REPORT_CSS
apd_report_css_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
