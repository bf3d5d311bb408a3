#!/usr/bin/perl
# A tiny HTTP peer for the container test: the workflow's http_call step calls it.
#   peer.pl PORT LOGFILE
# Listens on 127.0.0.1:PORT, answers every request 200 {"ok":true} after the delay given as ?ms=N in the URL,
# and appends one line per request received to LOGFILE: "<epoch seconds> <Idempotency-Key or -> <target>".
# One child process per connection; SIGTERM to the process group stops it all.
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my ($port, $log) = @ARGV;
die "usage: peer.pl PORT LOGFILE\n" unless defined $port && defined $log && $port =~ /^\d+$/;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 256, ReuseAddr => 1, Proto => 'tcp')
    or die "peer.pl: cannot listen on 127.0.0.1:$port: $!\n";
$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };
$| = 1;
print "peer listening on 127.0.0.1:$port\n";

while (1) {
    my $client = $server->accept or next;
    my $pid = fork();
    if (!defined $pid) { close $client; next; }
    if ($pid) { close $client; next; }
    close $server;
    serve($client);
    exit 0;
}

sub read_body {
    my ($c, $headers) = @_;
    if (($headers->{'transfer-encoding'} // '') =~ /chunked/i) {
        while (defined(my $size = <$c>)) {
            $size =~ s/[;\r\n].*//s;
            my $n = hex($size);
            my $chunk = '';
            read($c, $chunk, $n) if $n > 0;
            <$c>;    # the CRLF after the chunk (or the last, empty line)
            last if $n == 0;
        }
        return;
    }
    my $length = $headers->{'content-length'} // 0;
    my $body = '';
    read($c, $body, $length) if $length > 0;
}

sub serve {
    my ($c) = @_;
    while (defined(my $request = <$c>)) {
        next if $request =~ /^\r?\n$/;
        my (undef, $target) = split ' ', $request;
        $target //= '/';
        my %headers;
        while (defined(my $line = <$c>)) {
            $line =~ s/\r?\n$//;
            last if $line eq '';
            my ($name, $value) = split /:\s*/, $line, 2;
            $headers{lc $name} = $value // '' if defined $name;
        }
        read_body($c, \%headers);
        if (open(my $out, '>>', $log)) {
            syswrite $out, sprintf("%.3f %s %s\n", time, $headers{'idempotency-key'} // '-', $target);
            close $out;
        }
        my $ms = $target =~ /[?&]ms=(\d+)/ ? $1 : 0;
        sleep($ms / 1000) if $ms > 0;
        my $body = '{"ok":true}';
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
        $c->flush;
    }
}
