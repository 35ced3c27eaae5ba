/*
 * sip-flood: one source sending INVITEs over UDP as fast as it is told,
 * for flood tests: each INVITE its own Call-ID and branch, paced in
 * batches of sendmmsg every millisecond.  Prints what it sent:
 *
 *   sent N in S.SSS s (R/s)
 *
 *   sip-flood -b BIND_ADDR -d ADDR:PORT [-r PER_SECOND] [-t SECONDS]
 *
 * Responses (a 503, a relayed 200) are read and thrown away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define MSG 1024

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: sip-flood -b BIND_ADDR -d ADDR:PORT "
	    "[-r PER_SECOND] [-t SECONDS]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static char bufs[BATCH][MSG];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in src = { .sin_family = AF_INET },
			   dst = { .sin_family = AF_INET };
	const char *bind_addr = NULL, *to = NULL;
	char host[64], junk[2048];
	long rate = 20000;
	double secs = 10;
	uint64_t sent = 0, seq = 0, t0, end, tick;
	int fd, c, port, sz = 1 << 16;

	while ((c = getopt(argc, argv, "b:d:r:t:")) != -1) {
		switch (c) {
		case 'b': bind_addr = optarg; break;
		case 'd': to = optarg; break;
		case 'r': rate = atol(optarg); break;
		case 't': secs = atof(optarg); break;
		default: return usage();
		}
	}
	if (bind_addr == NULL || to == NULL || rate <= 0 || secs <= 0 ||
	    sscanf(to, "%63[^:]:%d", host, &port) != 2)
		return usage();
	if (inet_pton(AF_INET, bind_addr, &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		return usage();
	dst.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
		perror("sip-flood: socket/bind");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	{
		socklen_t l = sizeof(src);

		getsockname(fd, (struct sockaddr *)&src, &l);
	}
	memset(mm, 0, sizeof(mm));
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	/* one batch per millisecond: what the rate owes by then */
	for (tick = t0; tick < end; tick += 1000000) {
		uint64_t owed =
		    (tick - t0 + 1000000) * (uint64_t)rate / 1000000000ull;
		struct timespec ts;

		while (sent < owed) {
			int n = (int)(owed - sent < BATCH ? owed - sent
							  : BATCH),
			    k;

			for (int i = 0; i < n; i++, seq++) {
				int len = snprintf(bufs[i], MSG,
				    "INVITE sip:flood@%s:%d SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKfl%llu;rport\r\n"
				    "From: <sip:flood@%s>;tag=f%llu\r\n"
				    "To: <sip:flood@%s>\r\n"
				    "Call-ID: flood-%llu@%s\r\n"
				    "CSeq: 1 INVITE\r\n"
				    "Contact: <sip:flood@%s:%d>\r\n"
				    "Max-Forwards: 70\r\n"
				    "Content-Length: 0\r\n\r\n",
				    host, port, bind_addr, ntohs(src.sin_port),
				    (unsigned long long)seq, bind_addr,
				    (unsigned long long)seq, host,
				    (unsigned long long)seq, bind_addr,
				    bind_addr, ntohs(src.sin_port));

				iov[i].iov_base = bufs[i];
				iov[i].iov_len = (size_t)len;
				mm[i].msg_hdr.msg_iov = &iov[i];
				mm[i].msg_hdr.msg_iovlen = 1;
				mm[i].msg_hdr.msg_name = &dst;
				mm[i].msg_hdr.msg_namelen = sizeof(dst);
			}
			k = sendmmsg(fd, mm, (unsigned)n, 0);
			if (k < 0) {
				if (errno == EAGAIN || errno == ENOBUFS ||
				    errno == EINTR)
					break; /* the rest next tick */
				perror("sip-flood: sendmmsg");
				return 1;
			}
			sent += (uint64_t)k;
			if (k < n)
				break;
		}
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
		ts.tv_sec = (time_t)((tick + 1000000) / 1000000000ull);
		ts.tv_nsec = (long)((tick + 1000000) % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	{
		double took = (double)(now_ns() - t0) / 1e9;

		printf("sent %llu in %.3f s (%.0f/s)\n",
		    (unsigned long long)sent, took, (double)sent / took);
	}
	close(fd);
	return 0;
}
