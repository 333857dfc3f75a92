module top_lane_stage0 (input [67:0] model_inp, output [51:0] model_out);
    // a 16-bit adder (a carry chain) and 36 bits passed on
    assign model_out[15:0] = model_inp[15:0] + model_inp[31:16];
    assign model_out[51:16] = model_inp[67:32];
endmodule
