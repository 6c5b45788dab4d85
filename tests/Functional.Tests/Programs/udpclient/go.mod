module udpclient

go 1.19
