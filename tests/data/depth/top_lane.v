module top_lane (input clk, input [67:0] model_inp, output reg [16:0] model_out);
    reg [67:0] stage0_inp;
    reg [51:0] stage1_inp;
    wire [51:0] stage0_out;
    wire [16:0] stage1_out;
    top_lane_stage0 stage0 (.model_inp(stage0_inp), .model_out(stage0_out));
    top_lane_stage1 stage1 (.model_inp(stage1_inp), .model_out(stage1_out));
    always @(posedge clk) begin
        stage0_inp <= model_inp;
        stage1_inp <= stage0_out;
        model_out <= stage1_out;
    end
endmodule
